FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY wrapper ./wrapper
COPY legacy_adapters ./legacy_adapters
COPY fixtures ./fixtures
RUN pip install --no-cache-dir .
RUN useradd --system --create-home wrapper && mkdir /state && chown wrapper /state
USER wrapper
EXPOSE 8080
# Mount the mapping (with its `auth:` section) at /config/wrapper.yaml and keep the
# wrapper's own state (clients, API keys, signing keys) on a volume at /state
# (`auth: {state: /state/auth.db, ...}`). serve refuses to start without auth.
VOLUME ["/state"]
CMD ["legacy-wrapper", "serve", "--config", "/config/wrapper.yaml", "--bind", "0.0.0.0:8080", "--server", "granian", "--workers", "2"]
