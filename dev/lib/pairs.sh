# The environments every cluster suite runs on (make test's integration, Composer 3 simulation,
# faults, browser and examples stages; make demo; make fault-table; dev/airflow's default): the
# package sets of Composer's own images, one per Airflow major. dev/run_suites.py reads these
# two lines too. The other locks (requirements/) run the unit suite.
AIRFLOW2_PAIR=composer-2.13.8-airflow-2.10.5
AIRFLOW3_PAIR=composer-3-airflow-3.1.7
