"""Talks to Jira: auth, the read-only guard, pagination styles, rate limits, the catalog of config kinds."""
