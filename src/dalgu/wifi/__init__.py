"""Public Wi-Fi zones: access points and the places they serve (Smart Data Models
`dataModel.WifiNetwork`), their state kept by a sweep, their coverage (docs/wifi.md)."""
