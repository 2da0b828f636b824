"""The Qt viewer over ``core``: widgets render state; workers do the heavy work."""
