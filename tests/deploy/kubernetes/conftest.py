"""A real API server for the session (etcd + kube-apiserver from .tools/, on free ports)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.deploy.kubernetes.apiserver import ApiServer
from tests.deploy.kubernetes.kube import Kube


@pytest.fixture(scope="session")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with ApiServer(tmp_path_factory.mktemp("apiserver")) as server:
        yield server


@pytest.fixture(scope="session")
def kube(apiserver: ApiServer, tmp_path_factory: pytest.TempPathFactory) -> Kube:
    client = Kube(apiserver.kubeconfig, tmp_path_factory.mktemp("helm-home"), apiserver.tools)
    for crd in apiserver.tools.crds:
        client.kubectl("apply", "--server-side", f"--filename={crd}")
    client.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
    return client
