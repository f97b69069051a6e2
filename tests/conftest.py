from jack_fixture import jack_server  # noqa: F401  (the private JACK server for @pytest.mark.jack tests)
