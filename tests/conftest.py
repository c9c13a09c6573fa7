pytest_plugins = [
    "tests.plugins.k8s",
    "tests.plugins.sim",
    "tests.plugins.registry",  # before node, which imports it
    "tests.plugins.node",
    "tests.plugins.s3",
    "tests.plugins.sites",
    "tests.plugins.git",
    "tests.plugins.history",
]
