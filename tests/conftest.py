pytest_plugins = ["jiradrift.dev.pytest_plugin"]
