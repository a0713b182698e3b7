// proxy: client connections, listeners, workers
