"""Reusable Pulumi components for ML platforms on AWS.

Each component takes `(name, args, opts)`, knows nothing of mlstack's spec, and
parents every child to itself. Import them from their modules, e.g.
`from mlstack.components.foundation import Foundation, FoundationArgs`.
"""
