# Local Airflow deployment shaped like Cloud Composer's (CeleryExecutor, PostgreSQL, Redis),
# running its tasks' pods on the local cluster. Included by the top-level Makefile.
# See dev/airflow/README.md.
#   make airflow-up [AIRFLOW=3|2] [PAIR=af33-k1025|af210-k1010] [EXTRA_DAGS=/dir]
#                        start (idempotent); last lines: export NAME=value
#   make airflow-down    stop everything (keeps the database and logs)
#   make airflow-status  one line per component; exit 1 if any is down
#   make airflow-purge   airflow-down plus removal of the run dir
# Env: COMPOSER_KPO_AIRFLOW_DIR (run dir, default /var/tmp/composer-kpo-airflow),
#      KUBECONFIG (the cluster; default the local cluster's admin.kubeconfig).

AIRFLOW_MK_DIR := $(dir $(lastword $(MAKEFILE_LIST)))

.PHONY: airflow-up airflow-down airflow-status airflow-purge

airflow-up:
	@AIRFLOW="$(AIRFLOW)" PAIR="$(PAIR)" EXTRA_DAGS="$(EXTRA_DAGS)" bash $(AIRFLOW_MK_DIR)airflow-up.sh

airflow-down:
	@bash $(AIRFLOW_MK_DIR)airflow-down.sh

airflow-status:
	@AIRFLOW="$(AIRFLOW)" PAIR="$(PAIR)" bash $(AIRFLOW_MK_DIR)airflow-status.sh

airflow-purge:
	@bash $(AIRFLOW_MK_DIR)airflow-down.sh --purge
