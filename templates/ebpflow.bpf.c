/* placeholder: replaced by the datapath work */
