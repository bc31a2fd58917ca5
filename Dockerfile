# tradetel's image for the compose stack: the alert service (the default command) and the demo
# bot (`tradetel demo ...`, the `demo-bot` service).
#
#   docker build -t tradetel .
#   docker run --rm -p 9095:9095 tradetel
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the wheel is built from: the package, its metadata, and the shipped rules that
# pyproject.toml force-includes (tradetel/_data/trading.rules.yml, which `tradetel demo` runs).
WORKDIR /build
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
COPY collector/rules/trading.rules.yml ./collector/rules/trading.rules.yml
RUN pip install . && rm -rf /build

# The rules the alert service evaluates by default; compose mounts the repository's copy over it.
COPY collector/rules/trading.rules.yml /etc/tradetel/rules/trading.rules.yml

# A non-root user. Its directories exist in the image, so that a named volume mounted on one
# (compose mounts `alerts-data` on .../alerts) starts out owned by this user, not by root.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/tradetel tradetel \
    && install -d -o tradetel -g tradetel /var/lib/tradetel/alerts /var/lib/tradetel/demo
USER tradetel
WORKDIR /var/lib/tradetel

# OTLP/HTTP metrics in (POST /v1/metrics), the alerts and rules API, /metrics, /-/healthy.
EXPOSE 9095
CMD ["tradetel", "alerts", "serve", \
     "--rules", "/etc/tradetel/rules/trading.rules.yml", \
     "--listen", "0.0.0.0:9095", \
     "--data-dir", "/var/lib/tradetel/alerts"]
