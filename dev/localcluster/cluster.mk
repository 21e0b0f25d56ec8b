# Local single-node Kubernetes cluster (no Docker) for the integration tests.
# Included by the top-level Makefile. See dev/localcluster/README.md.
#   make cluster-deps    install Debian packages (root; idempotent)
#   make cluster-build   build/cache Kubernetes binaries, crictl and images
#   make cluster-up      start (idempotent); last line: export KUBECONFIG=...
#   make cluster-down    stop and clean up everything
#   make cluster-status  one line per component + node Ready
# Env: COMPOSER_KPO_CLUSTER_DIR (run dir, default /var/tmp/composer-kpo-cluster),
#      XDG_CACHE_HOME (cache root, default ~/.cache).

LOCALCLUSTER_DIR := $(dir $(lastword $(MAKEFILE_LIST)))

.PHONY: cluster-deps cluster-build cluster-up cluster-down cluster-status cluster-purge

cluster-deps:
	@$(LOCALCLUSTER_DIR)install-deps.sh

cluster-build: cluster-deps
	@$(LOCALCLUSTER_DIR)build-k8s.sh
	@$(LOCALCLUSTER_DIR)images/build-images.sh build

cluster-up:
	@$(LOCALCLUSTER_DIR)cluster-up.sh

cluster-down:
	@$(LOCALCLUSTER_DIR)cluster-down.sh

cluster-status:
	@$(LOCALCLUSTER_DIR)cluster-status.sh

# cluster-down plus removal of the run dir (certs, logs, containerd image store).
cluster-purge:
	@$(LOCALCLUSTER_DIR)cluster-down.sh --purge
