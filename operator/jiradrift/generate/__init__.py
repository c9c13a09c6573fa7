"""Build tools: the CRDs, the chart's CRD templates and the API reference page.

All generated from ``jiradrift.api.resources``; only ``jiradrift crds`` and the tests load them.
"""
