"""Generated documentation: the configuration reference and the control plane's OpenAPI."""
