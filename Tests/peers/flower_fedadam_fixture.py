"""Prints the float64 results of Flower 1.42's own FedAdam (flwr.serverapp.strategy) over
three rounds from fixed inputs, as a Swift literal for ServerOptimizerTests. Run with the
flwr virtualenv: .venv/flwr/bin/python Tests/peers/flower_fedadam_fixture.py"""
import numpy as np
from flwr.app import Array, ArrayRecord, Message, MetricRecord, RecordDict
from flwr.serverapp.strategy import FedAdam
from flwr.supercore.task_identity import TaskIdentity

# What a ServerApp's runtime sets before strategies build messages.
TaskIdentity.run_id, TaskIdentity.task_id, TaskIdentity.node_id = 1, 1, 0

x0 = np.array([1.0, -2.0, 0.5, 3.25, -0.125, 1e-3], dtype=np.float64)
averages = [
    np.array([2.0, -1.5, 0.25, 3.0, 0.5, 2e-3]),
    np.array([1.2, -1.2, 0.75, 3.5, -0.25, -1e-3]),
    np.array([1.7, -0.3, 0.6, 2.75, 0.125, 5e-4]),
]


def reply(arrays):
    content = RecordDict({"arrays": ArrayRecord({"w": Array(arrays)}), "metrics": MetricRecord({"num-examples": 1})})
    return Message(content=content, dst_node_id=1, message_type="train")


strategy = FedAdam()  # Flower's defaults: eta 0.1, beta_1 0.9, beta_2 0.99, tau 1e-3
strategy.current_arrays = {"w": x0.copy()}
outputs = []
for server_round, avg in enumerate(averages, start=1):
    arrays, _ = strategy.aggregate_train(server_round, [reply(avg)])
    out = arrays["w"].numpy()
    strategy.current_arrays = {"w": out}
    outputs.append(out)

fmt = lambda a: "[" + ", ".join(repr(float(v)) for v in a) + "]"
print("x0:", fmt(x0))
for i, (avg, out) in enumerate(zip(averages, outputs), start=1):
    print(f"round {i} average:", fmt(avg))
    print(f"round {i} flower:", fmt(out))
