#!/bin/sh
# The image's entrypoint: one Dagster service per container, named by the first argument.
#   code-server  the glimpse_assets code location over gRPC on port 4000 (the default)
#   webserver    the Dagster UI on port 3000, reaching the code server (deploy/workspace.grpc.yaml)
#   daemon       schedules, sensors, the run queue, run monitoring and run retries
#   worker       a Celery worker for GLIMPSE_EXECUTOR=celery (deploy/celery.yaml)
# Anything else is run as a command (`docker run IMAGE glimpse serve`, `... dagster --help`).
# The instance is $DAGSTER_HOME/dagster.yaml: deploy/dagster.postgres.yaml, from DAGSTER_PG_*.
set -eu
workspace="${GLIMPSE_WORKSPACE:-/opt/glimpse/deploy/workspace.grpc.yaml}"
celery_config="${GLIMPSE_CELERY_CONFIG:-/opt/glimpse/deploy/celery.yaml}"
host="${GLIMPSE_BIND_HOST:-0.0.0.0}"  # every interface of the container
case "${1:-code-server}" in
  code-server)
    [ "$#" -gt 0 ] && shift
    exec dagster code-server start -h "$host" -p "${GLIMPSE_CODE_SERVER_PORT:-4000}" \
      -m glimpse_assets --location-name glimpse_assets "$@" ;;
  webserver)
    shift
    exec dagster-webserver -h "$host" -p "${GLIMPSE_WEBSERVER_PORT:-3000}" -w "$workspace" "$@" ;;
  daemon)
    shift
    exec dagster-daemon run -w "$workspace" "$@" ;;
  worker)
    shift
    exec dagster-celery worker start -A dagster_celery.app -y "$celery_config" "$@" ;;
  *)
    exec "$@" ;;
esac
