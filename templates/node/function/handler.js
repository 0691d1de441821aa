'use strict';

// Handles one request: input is the request body as text; the value returned
// (a string, a Buffer, or an object sent as JSON) is the answer.
module.exports = async (input) => {
  return 'Hello! You said: ' + input;
};
