"""Which inputs carry a resource's own physical (AWS) name: shared by the mocks, the plan view and the diff."""

# Inputs that carry a resource's own physical name, by preference.
PHYSICAL_NAME_KEYS = (
    "name",
    "bucket",
    "featureGroupName",
    "modelPackageGroupName",
    "modelCardName",
    "trackingServerName",
    "endpointName",
    "pipelineName",
    "monitoringScheduleName",
    "alarmName",
    "dashboardName",
)
