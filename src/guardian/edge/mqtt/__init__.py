"""Optional MQTT publishing from the edge: events, camera state, Home Assistant discovery."""
