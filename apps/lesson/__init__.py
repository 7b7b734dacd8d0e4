"""The vanishing-gradient lesson: how far back can Elman, LSTM and GRU networks
carry information? Measured on long-range tasks and by gradient decay."""
