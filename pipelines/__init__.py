"""SageMaker pipeline definitions and their step scripts.

Nothing here imports Pulumi or mlstack: the builder takes plain typed inputs and
returns a pipeline definition (JSON), so any program can use it.
"""
