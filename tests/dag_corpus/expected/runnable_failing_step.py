"""Runs on the local cluster once migrated: a script whose middle step fails.

Stock KPO reports it as success (the shell exits with the last step's status). After migration,
ComposerPodOperator adds `set -e` and the task fails at the failing step, as it should.
"""

import pendulum
from airflow import DAG
from airflow_provider_composer_kpo import ComposerPodOperator

with DAG(
    dag_id="corpus_failing_step",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
) as dag:
    steps = ComposerPodOperator(
        task_id="steps",
        name="steps",
        image="busybox:1.36",
        cmds=["sh", "-c"],
        arguments=["echo 'step 1 ok'\nls /no/such/input\necho 'step 3 ran after a failure'"],
        startup_timeout_seconds=300,
    )
