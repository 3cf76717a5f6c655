// Archive: see the module's other files.
