//! scaidrive-connectors: keeps SMB shares and SharePoint libraries in step with the embedded ScaiDrive store.
