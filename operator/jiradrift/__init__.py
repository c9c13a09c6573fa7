"""jira-drift-operator: snapshot Jira site configuration, detect drift, report it in Kubernetes."""

# The one version of a release: the wheel reads it (pyproject.toml), and tools/release/stamp.sh
# writes it, with the chart's version and appVersion, from the release tag. Never edit it by hand
# to a value the chart does not carry: tests/release/test_versions.py checks they agree.
__version__ = "0.1.0"
