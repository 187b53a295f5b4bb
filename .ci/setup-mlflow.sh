#!/usr/bin/env bash
# Installs MLflow 3.17.2 into .venv-mlflow at the repository root, for the
# integration tests of crates/spanwise-otlp. Idempotent: an existing venv with
# the right MLflow version is kept as is.
set -euo pipefail

MLFLOW_VERSION="3.17.2"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SPANWISE_MLFLOW_VENV:-$ROOT/.venv-mlflow}"

installed_version() {
    "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("mlflow"))' 2>/dev/null || true
}

if [ -x "$VENV/bin/mlflow" ] && [ "$(installed_version)" = "$MLFLOW_VERSION" ]; then
    echo "setup-mlflow: MLflow $MLFLOW_VERSION already installed in $VENV"
    exit 0
fi

PYTHON="${PYTHON:-python3}"
echo "setup-mlflow: installing MLflow $MLFLOW_VERSION into $VENV (takes a few minutes)"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "mlflow==$MLFLOW_VERSION"

if [ "$(installed_version)" != "$MLFLOW_VERSION" ]; then
    echo "setup-mlflow: MLflow $MLFLOW_VERSION did not install into $VENV" >&2
    exit 1
fi
"$VENV/bin/mlflow" --version
echo "setup-mlflow: done"
