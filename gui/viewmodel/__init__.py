"""The app side without Qt: what the window shows, computed from the core's answers (the model
lineup, the structure graph, names, colours, the plain/residual pairs). The command line reads it too."""
