import json, pytest
@pytest.fixture(scope="session", autouse=True)
def _dump(recorder):
    yield
    with open("/tmp/recorded_calls.json", "w") as f:
        json.dump(sorted({(c.service, c.method, c.path if not c.action else "", c.action, "&".join(sorted(k for k in c.params if not c.action))) for c in recorder.seen}), f, indent=0)
