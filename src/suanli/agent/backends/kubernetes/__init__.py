"""The Kubernetes backend: attempts run as batch/v1 Jobs, through the official client, which is
imported only when the backend is built (docs/connect-kubernetes.md)."""

from __future__ import annotations

from suanli.agent.backends.options import Backend, BackendOptions, BadOption


def build(options: BackendOptions) -> Backend:
    from suanli.agent.backends.kubernetes.executor import KubernetesExecutor

    try:
        executor = KubernetesExecutor(
            kubeconfig=str(options.kubeconfig) if options.kubeconfig else None,
            context=options.kube_context,
            namespace=options.namespace,
            image=options.image,
            pool_label=options.pool_label,
            gpu_model=options.gpu_model,
            service_account=options.service_account,
            stop_grace_s=options.cancel_grace_s,
        )
    except Exception as bad:  # the client's own config errors: a missing or broken kubeconfig
        raise BadOption(f"cannot load the Kubernetes client configuration: {bad}") from None
    return Backend(executor, "from the cluster's nodes")
