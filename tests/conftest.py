pytest_plugins = [
    "tests.plugins.k8s",
    "tests.plugins.sim",
    "tests.plugins.node",
    "tests.plugins.s3",
    "tests.plugins.registry",
]
