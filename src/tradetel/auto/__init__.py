"""Auto-instrumentation: the launcher, OpenTelemetry distro and instrumentors."""

from __future__ import annotations
