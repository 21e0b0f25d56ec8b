# Real DAG, whole. Source: airflow/contrib/example_dags/example_kubernetes_operator.py as kimpers/airflow (a
# fork of apache/airflow) holds it at 44726896afeb80eb5d3d4c77198fec0391ca4096, Apache-2.0: Airflow 1.10's
# own example. Era: Airflow 1.10: contrib import inside try/except, `days_ago` in default_args, `dag=dag`.
# -*- coding: utf-8 -*-
#
# Licensed to the Apache Software Foundation (ASF) under one
# or more contributor license agreements.  See the NOTICE file
# distributed with this work for additional information
# regarding copyright ownership.  The ASF licenses this file
# to you under the Apache License, Version 2.0 (the
# "License"); you may not use this file except in compliance
# with the License.  You may obtain a copy of the License at
#
#   http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing,
# software distributed under the License is distributed on an
# "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY
# KIND, either express or implied.  See the License for the
# specific language governing permissions and limitations
# under the License.

from airflow.models import DAG
from airflow.utils.log.logging_mixin import LoggingMixin
import pendulum
from airflow_provider_composer_kpo import ComposerPodOperator

log = LoggingMixin().log

try:

    args = {
        'owner': 'airflow',
        'start_date': pendulum.today("UTC").add(days=-2)
    }

    dag = DAG(
        dag_id='example_kubernetes_operator',
        default_args=args,
        schedule=None)

    tolerations = [
        {
            'key': "key",
            'operator': 'Equal',
            'value': 'value'
        }
    ]

    k = ComposerPodOperator(
        namespace='default',
        image="ubuntu:16.04",
        cmds=["bash", "-cx"],
        arguments=["echo", "10"],
        labels={"foo": "bar"},
        name="airflow-test-pod",
        in_cluster=False,
        task_id="task",
        get_logs=True,
        dag=dag,
        on_finish_action="keep_pod",
        tolerations=tolerations
    )

except ImportError as e:
    log.warning("Could not import KubernetesPodOperator: " + str(e))
    log.warning("Install kubernetes dependencies with: "
                "    pip install 'apache-airflow[kubernetes]'")
