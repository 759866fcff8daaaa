"""Logpush: the parts of a job that shape records into uploads.

``output_options`` (record layout), ``filter`` (which records), ``batch`` (when an upload
closes) and ``compress`` (gzip). Jobs, the API and destinations build on these.
"""
