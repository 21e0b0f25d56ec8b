"""A team's own operator on top of stock KPO, mapped tasks and the classic operators around them."""

from airflow import DAG
from airflow.operators.bash_operator import BashOperator
from airflow.operators.dummy import DummyOperator
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator as KPO
from airflow.utils.dates import days_ago

REPORT_SCRIPT = """
# build the daily report
python -m report --day {{ ds }}
gsutil cp report.csv gs://reports/{{ ds_nodash }}/
"""


class TeamPodOperator(KPO):
    """Every task of the team runs in its namespace with its labels."""

    def __init__(self, **kwargs):
        kwargs.setdefault("namespace", "team-data")
        kwargs.setdefault("labels", {"team": "data"})
        super().__init__(**kwargs)


with DAG(
    "team_reports",
    schedule_interval="@daily",
    start_date=days_ago(2),
    concurrency=4,
    catchup=False,
) as dag:
    start = DummyOperator(task_id="start")
    report = TeamPodOperator(
        task_id="report",
        name="report",
        image="europe-docker.pkg.dev/team/report:1.4",
        cmds=["bash", "-c", REPORT_SCRIPT],
        node_selectors={"cloud.google.com/gke-nodepool": "reports"},
        task_concurrency=1,
    )
    shards = KPO.partial(
        task_id="shard",
        name="shard",
        namespace="team-data",
        image="europe-docker.pkg.dev/team/shard:1.4",
        startup_timeout_seconds=20,
        configmaps=["shard-settings"],
    ).expand(arguments=[["--shard", "0"], ["--shard", "1"]])
    notify = BashOperator(
        task_id="notify",
        bash_command="echo report for {{ execution_date }}, previous {{ prev_ds }}",
    )
    start >> report >> shards >> notify
