"""/lens and /attention through gradio_client, against the app launched as `python app.py` launches it.

Checked: after /start and /step calls, both answer for the client's current position in the CLI's
JSON shapes; the lens's final top-1 is the token the next greedy /step takes; one layer can be
asked for, a layer out of range is a one-line error; a client without a session gets
"session expired" and creates none.
"""

import json

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import app_server

CONVERSATION = json.dumps([{"role": "user", "content": "Name three colours."}])


@pytest.fixture(scope="module")
def client():
    return Client(app_server.launch(), verbose=False)


def test_lens_and_attention_follow_the_clients_steps(client):
    started = client.predict(CONVERSATION, api_name="/start")
    client.predict(api_name="/step")
    lens = client.predict(4, api_name="/lens")
    assert set(lens) >= {"model", "prompt_tokens", "position", "layers", "final", "chosen"}
    assert lens["position"] == started["prompt_tokens"] and lens["generated"] == 1
    assert all(len(layer["top"]) == 4 and layer["chosen_rank"] >= 1 for layer in lens["layers"])
    attention = client.predict(None, api_name="/attention")
    assert len(attention["tokens"]) == lens["position"] + 1
    for layer in attention["layers"]:
        assert len(layer["weights"]) == len(attention["tokens"]) and sum(layer["weights"]) == pytest.approx(1, abs=1e-5)
    one = client.predict(3, api_name="/attention")
    assert [layer["layer"] for layer in one["layers"]] == [3]
    assert one["layers"][0]["weights"] == pytest.approx(attention["layers"][3]["weights"], abs=1e-6)
    stepped = client.predict(api_name="/step")
    assert stepped["steps"][-1]["id"] == lens["chosen"]["id"] == lens["final"][0]["id"]


def test_bad_layer_and_missing_session_are_one_line_errors(client):
    client.predict(CONVERSATION, api_name="/start")
    with pytest.raises(AppError, match=r"layer must be between 0 and \d+ \(got 99\)"):
        client.predict(99, api_name="/attention")
    stranger = Client(app_server.launch(), verbose=False)
    with pytest.raises(AppError, match="session expired"):
        stranger.predict(api_name="/lens")
