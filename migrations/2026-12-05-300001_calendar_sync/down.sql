DROP TABLE calendar_writes;
DROP TABLE calendar_busy;
DROP TABLE calendar_resources;
DROP TABLE calendar_links;
