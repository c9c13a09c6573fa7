"""jira-drift-operator: snapshot Jira site configuration, detect drift, report it in Kubernetes."""

__version__ = "0.1.0"
