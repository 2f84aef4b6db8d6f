FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY wrapper ./wrapper
COPY legacy_adapters ./legacy_adapters
COPY fixtures ./fixtures
RUN pip install --no-cache-dir .
RUN useradd --system wrapper
USER wrapper
EXPOSE 8080
# Mount the mapping at /config/wrapper.yaml. Until authentication is configured the
# server only serves loopback; put it behind a reverse proxy in the same pod.
CMD ["legacy-wrapper", "serve", "--config", "/config/wrapper.yaml", "--bind", "127.0.0.1:8080", "--no-auth", "--server", "granian", "--workers", "2"]
