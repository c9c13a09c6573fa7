"""Kubernetes-free core: capture, manifests, diff, drift listing."""
