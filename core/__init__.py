"""rnn-demos core: recurrent cells, CNN-RNN hybrids, heads, losses and run tools."""
