"""Learning code: Lightning modules, data modules, YOLO training, export and model registry.

Runtime inference never imports this package.
"""
