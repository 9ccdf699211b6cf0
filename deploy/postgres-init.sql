-- One database per service: no service reads another's tables.
CREATE DATABASE motcua_intake OWNER motcua;
CREATE DATABASE motcua_workflow OWNER motcua;
CREATE DATABASE motcua_payments OWNER motcua;
CREATE DATABASE motcua_identity_bridge OWNER motcua;
CREATE DATABASE motcua_metrics OWNER motcua;
