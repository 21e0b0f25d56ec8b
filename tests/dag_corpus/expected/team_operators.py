"""A team's own operator on top of stock KPO, mapped tasks and the classic operators around them."""

from airflow import DAG
from airflow.providers.standard.operators.bash import BashOperator
import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow_provider_composer_kpo import ComposerPodOperator

REPORT_SCRIPT = """
# build the daily report
python -m report --day {{ ds }}
gsutil cp report.csv gs://reports/{{ ds_nodash }}/
"""


class TeamPodOperator(ComposerPodOperator):
    """Every task of the team runs in its namespace with its labels."""

    def __init__(self, **kwargs):
        kwargs.setdefault("namespace", "team-data")
        kwargs.setdefault("labels", {"team": "data"})
        super().__init__(**kwargs)


with DAG(
    "team_reports",
    schedule="@daily",
    start_date=pendulum.today("UTC").add(days=-2),
    max_active_tasks=4,
    catchup=False,
) as dag:
    start = EmptyOperator(task_id="start")
    report = TeamPodOperator(
        task_id="report",
        name="report",
        image="europe-docker.pkg.dev/team/report:1.4",
        cmds=["bash", "-c", REPORT_SCRIPT],
        node_selector={"cloud.google.com/gke-nodepool": "reports"},
        max_active_tis_per_dag=1,
    )
    shards = ComposerPodOperator.partial(
        task_id="shard",
        name="shard",
        namespace="team-data",
        image="europe-docker.pkg.dev/team/shard:1.4",
        startup_timeout_seconds=20,
        configmaps=["shard-settings"],
    ).expand(arguments=[["--shard", "0"], ["--shard", "1"]])
    notify = BashOperator(
        task_id="notify",
        bash_command="echo report for {{ logical_date }}, previous {{ prev_ds }}",
    )
    start >> report >> shards >> notify
