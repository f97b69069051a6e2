from jack_fixture import jack_server  # noqa: F401  (the private JACK server for @pytest.mark.jack tests)
from model_fixture import tiny_run  # noqa: F401  (a miniature trained + exported model)
