"""rnn-demos applications, each built on `core/`."""
