"""Shared Dinero API client used by tap-dinero and target-dinero.

Modules: :mod:`~dinero_api.settings` (config schema and validation), :mod:`~dinero_api.auth`
(tokens), :mod:`~dinero_api.quota` (cross-process throttle), :mod:`~dinero_api.session` and
:mod:`~dinero_api.client` (HTTP with Dinero's retry rules), :mod:`~dinero_api.errors`,
:mod:`~dinero_api.filters` (queryFilter), :mod:`~dinero_api.dates` (the date-time wire format),
:mod:`~dinero_api.envelope` (JSON bodies, list envelopes, when paging stops), :mod:`~dinero_api.stats`.
It knows nothing of Singer beyond the settings schema, and never imports the sandbox.
"""
