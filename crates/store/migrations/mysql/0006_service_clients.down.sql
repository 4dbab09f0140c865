DROP TABLE request_nonces;
DROP TABLE service_clients;
