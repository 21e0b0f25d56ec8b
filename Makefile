# The two commands a newcomer needs (see README):
#   make demo   run every example DAG end to end on the local cluster and print a table
#   make test   lint, docs, unit suite on every supported (Airflow, cncf-kubernetes) pair,
#               integration suite on the local cluster, fault matrix on the local Airflow
#   make fault-table  the fault matrix as a benchmark: ComposerPodOperator beside stock KPO, both
#               Composer package sets (benchmarks/faults.py); make faults is make test's faults stage
#   make browser  Airflow's UI in Debian's chromium (make test's browser stage), screenshots in artifacts/
#   make release  build the sdist and wheel, twine check --strict, the metadata tests; uploads nothing
#   make docs   the documentation site (Sphinx, warnings as errors) into docs/_build/html
#   make soak   N=... SEED=...: seeded pod tasks under random faults on the local deployment (tests/soak)
# Both install what they need on a fresh Debian 12 machine (as root) and stop what they start.

.PHONY: test demo venvs lint unit integration faults fault-table browser benchmarks release docs soak

test:
	@bash dev/test.sh

demo:
	@bash dev/demo.sh

venvs:
	@bash dev/venvs.sh

lint:
	@bash dev/test.sh lint

# ENV=af210-k1010 (or several, space-separated): only those environments' unit suites.
unit:
	@bash dev/test.sh unit $(if $(ENV),--env $(ENV))

integration:
	@bash dev/test.sh integration

faults:
	@bash dev/test.sh faults

fault-table:
	@bash dev/fault_table.sh

browser:
	@bash dev/test.sh browser

# The soak (tests/soak): N seeded pod tasks with faults at random moments, on the local deployment
# (AIRFLOW=2 for Airflow 2's set). SEED replays a run; without it a random seed is printed first.
soak:
	@N="$(N)" SEED="$(SEED)" FAULTS="$(FAULTS)" CONCURRENCY="$(CONCURRENCY)" AIRFLOW="$(AIRFLOW)" PAIR="$(PAIR)" \
		bash dev/soak.sh

release:
	@bash dev/release.sh

docs:
	@bash dev/docs.sh

include dev/localcluster/cluster.mk
include dev/airflow/airflow.mk
