pytest_plugins = ["jiradrift.dev.pytest_plugin", "jiradrift.sim.pytest_plugin"]
