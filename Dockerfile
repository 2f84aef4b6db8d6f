FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY wrapper ./wrapper
COPY legacy_adapters ./legacy_adapters
RUN pip install --no-cache-dir .
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint
RUN useradd --system --create-home wrapper && mkdir /state && chown wrapper /state
USER wrapper
# The wrapper's own state (clients, API keys, signing keys; the demo's files) lives on a
# volume: relative paths, such as the demo's var/demo, land there too.
WORKDIR /state
VOLUME ["/state"]
EXPOSE 8080
# Without a command: serve the mapping mounted at /config/wrapper.yaml (with its `auth:`
# section, `state: /state/auth.db`); serve refuses to start without auth. With a command,
# run it: `docker run IMAGE legacy-wrapper clients add ...`. See the README's Docker section.
ENV LEGACY_WRAPPER_CONFIG=/config/wrapper.yaml
ENTRYPOINT ["docker-entrypoint"]
