# The Glimpse image: the glimpse_assets package with the deploy extra (dagster-postgres,
# dagster-celery, dagster-k8s), run as a non-root user. One image for every service:
#   docker build -t glimpse-assets:0.1.0 .
#   docker run glimpse-assets:0.1.0                 # the code server (gRPC, port 4000)
#   docker run -p 3000:3000 glimpse-assets:0.1.0 webserver
#   docker run glimpse-assets:0.1.0 daemon
#   docker run glimpse-assets:0.1.0 worker          # a Celery worker (GLIMPSE_EXECUTOR=celery)
# Each needs DAGSTER_PG_* (the instance) and GLIMPSE_STORAGE_URI=s3://... with AWS credentials;
# the webserver and the daemon also GLIMPSE_CODE_SERVER_HOST (and _PORT, 4000 by default).
# On Kubernetes the Helm chart runs it as the user-code deployment (deploy/helm/values.yaml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    GLIMPSE_CODE_SERVER_PORT=4000

RUN groupadd --gid 10001 glimpse \
    && useradd --uid 10001 --gid glimpse --create-home --home-dir /home/glimpse \
        --shell /usr/sbin/nologin glimpse

WORKDIR /opt/glimpse
# The package metadata first, then the code: the installed package, not an editable checkout.
COPY pyproject.toml setup.py README.md ./
COPY glimpse_assets ./glimpse_assets
RUN pip install '.[deploy]' && rm -rf build ./*.egg-info

COPY deploy/dagster.postgres.yaml ${DAGSTER_HOME}/dagster.yaml
COPY deploy/workspace.grpc.yaml deploy/celery.yaml ./deploy/
COPY --chmod=0755 deploy/entrypoint.sh /usr/local/bin/glimpse-entrypoint
# DAGSTER_HOME holds the instance file and what Dagster writes locally (compute logs, the
# Celery worker's generated config); it belongs to the service user, the code does not.
RUN chown -R glimpse:glimpse ${DAGSTER_HOME}

USER 10001:10001
EXPOSE 3000 4000
ENTRYPOINT ["glimpse-entrypoint"]
CMD ["code-server"]
