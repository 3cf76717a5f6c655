// SlideIO: see the module's other files.
